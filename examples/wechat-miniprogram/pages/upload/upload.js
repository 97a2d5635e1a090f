const { apiBaseUrl } = require('../../config');

Page({
  data: { status: 'idle', lastImageId: '', error: '' },

  // bound to the "choose and upload" button in upload.wxml
  chooseAndUpload() {
    wx.chooseMedia({
      count: 1,
      mediaType: ['image'],
      success: (res) => this.upload(res.tempFiles[0].tempFilePath),
      fail: () => this.setData({ status: 'cancelled' }),
    });
  },

  upload(filePath) {
    this.setData({ status: 'uploading' });
    wx.uploadFile({
      url: `${apiBaseUrl}/upload`,
      filePath,
      name: 'file',
      success: (res) => {
        if (res.statusCode >= 200 && res.statusCode < 300) {
          const { id } = JSON.parse(res.data);
          this.setData({ status: 'done', lastImageId: id });
        } else {
          this.setData({ status: 'failed', error: `HTTP ${res.statusCode}` });
        }
      },
      fail: (err) => this.setData({ status: 'failed', error: err.errMsg }),
    });
  },

  openGallery() {
    wx.navigateTo({ url: `/pages/gallery/gallery?id=${this.data.lastImageId}` });
  },
});
